# A runner-only logic module.
from misp_modules.contract.reply import if_reply
from misp_modules.lib.workflow import declare, module_functions

PARAMS = [{"id": "flag", "label": "Flag", "type": "select", "default": "yes", "options": {"yes": "Yes", "no": "No"}}]
moduleinfo, moduleconfig = declare(misp_id="flag-if", module_type="logic", name="IF :: Flag", params=PARAMS,
                                   description="True when the flag param is yes")
introspection, version = module_functions(moduleinfo, moduleconfig)


def dict_handler(request):
    return if_reply((request.get("params") or {}).get("flag", "yes") == "yes")
