import datetime
import io
import uuid

moduleinfo = {"version": "0.1", "author": "Tests", "description": "Odd results", "module-type": ["action"],
              "name": "Unserialisable"}


def dict_handler(request):
    if request.get("kind") == "misp":
        from pymisp import MISPObject

        obj = MISPObject("domain-ip")
        obj.add_attribute("domain", value="example.org")
        return {"results": {"Object": [obj]}, "when": datetime.date(2024, 1, 2), "uuid": uuid.UUID(int=7)}
    if request.get("kind") == "int_keys":
        return {"items": {0: "a", 2: "c"}}
    if request.get("kind") == "mixed":  # what upstream sends as null, beside what it converts
        return {"results": [{"types": ["email-attachment"], "values": ["a.txt"], "data": io.BytesIO(b"x"),
                             "raw": b"bytes", "when": datetime.date(2024, 1, 2)}], "tags": {"tlp:clear"}}
    if request.get("kind") == "huge_int":  # upstream's encoder fails too
        return {"count": 2 ** 70}
    return {"data": {1, 2, 3}}


def introspection():
    return {"config": {}}


def version():
    return dict(moduleinfo, config={})
