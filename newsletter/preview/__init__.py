"""The preview: drafts in the browser, reloaded on every save.

`server` is a generic live-reload HTTP layer that imports nothing of ours;
`desk` is the desk's side (pages, state, the issue list), given what it
needs by `api` (a render function); `ui/` holds its pages and browser code.
"""
