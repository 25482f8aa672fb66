raise RuntimeError("files starting with _ are not modules and must never be imported as such")
