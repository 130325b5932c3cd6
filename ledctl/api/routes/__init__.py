"""The console's routes, one APIRouter per area, assembled by `ledctl.api.app.create_app`:

* `auth`    — log in and out, who am I
* `boards`  — the fleet as JSON with what is wrong in words, each board's timeline, LED-look pictures
* `data`    — the bulletin's figures
* `notices` — draft, preview, approve, publish, review, reject, cancel, override
* `users`   — users and roles (admin)
* `audit`   — the hash-chained audit log and its check
* `playlog` — the proof of display: what each board showed when, as a page, JSON and CSV
* `reports` — the disclosure report, its CSV
* `events`  — live updates (server-sent events)
* `pages`   — the server-rendered HTML pages
* `sim`     — the demo's simulated boards, live, and switches to try a fault

Every call checks its caller's role (`ledctl.api.deps`); the notice rules themselves live in
the workflow, so the console and the CLI agree.
"""
