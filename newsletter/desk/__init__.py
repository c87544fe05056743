"""The desk: what the editor writes and keeps.

`config` reads `newsletter.yaml` into `Settings`; `editorial` reads an
issue file into a resolved, valid `Issue` (through the located YAML of
`_yaml` and the typed readers of `_fields`); `lookup` is how `story:`
references find their stories; `drafts` writes the editor's YAML
(round-trip, comments kept); `lockfile` pins what references resolved to.
Imports nothing of the other stages.
"""
