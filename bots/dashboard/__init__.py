"""The coordinator dashboard (issue 18, docs/DASHBOARD.md): a web page served by the bots process,
for people holding `dashboard.view`, who log in with their Matrix account."""
