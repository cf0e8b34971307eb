// The log marker beside a served build (harness/workerd.py): a second worker in the same
// workerd, on its own socket. GET /?marker=M writes "M:stdout" with console.log and
// "M:stderr" with console.error, so a test can see that workerd's log has caught up on both
// streams before it asserts that a line is absent.
export default {
  fetch(request) {
    const marker = new URL(request.url).searchParams.get("marker");
    console.log(`${marker}:stdout`);
    console.error(`${marker}:stderr`);
    return new Response("logged");
  },
};
