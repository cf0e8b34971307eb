from worker_build.cli import main

raise SystemExit(main())
