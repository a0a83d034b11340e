/** The page's stylesheet, served as /static/app.css (kept in TypeScript so tsc ships it to dist/). */
export const STYLESHEET = `
:root { color-scheme: light dark; --ok: #1a7f37; --failed: #cf222e; --running: #0969da; --muted: #6e7781; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; }
.bar { display: flex; gap: 1em; align-items: center; padding: .5em 1em; border-bottom: 1px solid #8884; }
.bar .brand { font-weight: 700; text-decoration: none; font-size: 1.1em; }
.bar .who { margin-left: auto; color: var(--muted); }
.bar form { margin: 0; }
main { padding: 1em; max-width: 1200px; }
h1 { font-size: 1.3em; margin: .2em 0 .6em; }
h2 { font-size: 1.1em; margin: 1.2em 0 .4em; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3em .6em; border-bottom: 1px solid #8883; vertical-align: top; }
th { font-weight: 600; color: var(--muted); }
code, pre { font: 12.5px/1.4 ui-monospace, monospace; }
pre { background: #8881; padding: .6em; overflow: auto; max-height: 32em; white-space: pre-wrap; word-break: break-word; }
.state { font-weight: 600; }
.state-ok, .state-succeeded { color: var(--ok); }
.state-failed { color: var(--failed); }
.state-running, .state-queued { color: var(--running); }
.state-cancelled, .state-skipped, .state-pending { color: var(--muted); }
tr.failure td { color: var(--failed); border-bottom: 1px solid #8883; }
.problem { color: var(--failed); }
.actions { display: flex; gap: .5em; margin: .6em 0; }
.actions form { margin: 0; }
.meta { color: var(--muted); }
.log { max-height: 24em; }
.sign-in { max-width: 32em; }
.sign-in input { width: 100%; padding: .4em; margin: .3em 0 .6em; }
button { padding: .3em .9em; cursor: pointer; }
`;
