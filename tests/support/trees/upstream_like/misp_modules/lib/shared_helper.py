# Imported by the tree's modules as misp_modules.lib.shared_helper, as upstream's helpers are.
GREETING = "from the tree's lib"
