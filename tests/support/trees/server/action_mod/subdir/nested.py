raise RuntimeError("sub-directories of a type dir are not modules")
