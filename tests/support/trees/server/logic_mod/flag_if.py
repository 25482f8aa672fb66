# A runner-only logic module.
from misp_modules.contract.reply import if_reply
from misp_modules.lib.declaration import declare

node = declare(misp_id="flag-if", module_type="logic", name="IF :: Flag", description="True when the flag param is yes",
               params=[{"id": "flag", "label": "Flag", "type": "select", "default": "yes",
                        "options": {"yes": "Yes", "no": "No"}}])


@node.handler
def dict_handler(req):
    return if_reply(req.params["flag"] == "yes")
