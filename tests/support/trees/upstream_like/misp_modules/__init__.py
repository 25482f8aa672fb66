# An upstream-shaped package (upstream's layout: modules/, lib/, data/) for the import-environment tests.
