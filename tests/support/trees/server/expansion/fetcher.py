# Fetches request["url"] with requests, its config apikey in a header and the URL (--debug-extended tests).
import requests

moduleinfo = {"version": "1", "author": "Tests", "description": "Fetch a URL", "module-type": ["expansion"],
              "name": "Fetcher"}
moduleconfig = ["apikey"]


def dict_handler(request):
    key = request["config"]["apikey"]
    answer = requests.get(request["url"], headers={"X-Api-Key": key}, params={"apikey": key, "q": "x"}, timeout=5)
    return {"results": [{"types": ["text"], "values": [answer.text]}]}


def introspection():
    return {"input": ["url"], "output": ["text"]}


def version():
    return dict(moduleinfo, config=moduleconfig)
