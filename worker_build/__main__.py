from worker_build.entry import main

raise SystemExit(main())
