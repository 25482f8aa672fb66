# A runner-only re-implementation of MISP's built-in `webhook` node: allowed, MISP never lists it.
from misp_modules.contract.reply import reply
from misp_modules.lib.declaration import declare

node = declare(misp_id="webhook", module_type="action", name="Webhook", version="0.7",
               description="Runner-only test double of MISP's webhook node")


@node.handler
def dict_handler(req):
    return reply(True)
