# Custom modules are a package: relative imports of private helpers work.
from ._helper import VALUE

moduleinfo = {"version": "0.1", "author": "Tests", "description": "Relative import", "module-type": ["action"],
              "name": "Relative"}


def dict_handler(request):
    return {"data": VALUE}


def introspection():
    return {"config": {}}


def version():
    return dict(moduleinfo, config={})
