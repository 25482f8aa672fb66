# dict_handler raising AttributeError: upstream would silently retry handler(); here it is an error.
moduleinfo = {"version": "0.1", "author": "Tests", "description": "AttributeError", "module-type": ["action"],
              "name": "Attr error"}


def dict_handler(request):
    return None.missing


def handler(q=False):
    return {"data": "handler fallback used"}


def introspection():
    return {"config": {}}


def version():
    return dict(moduleinfo, config={})
