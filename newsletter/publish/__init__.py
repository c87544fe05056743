"""Publishing: the archive site, built incrementally and swapped in at once.

`archive.build_site` decides what to render and runs it (a process pool);
`site` makes the pages that list issues (index, feed, sitemap, search) and
holds `StagedSite`, the next site assembled beside the current one;
`_folders` replaces one built folder atomically. Uses the desk (issue files)
and render; never the store or the network: `api` hands in a `StoreOpener`.
"""
