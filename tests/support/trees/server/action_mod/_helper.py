VALUE = "from _helper"
