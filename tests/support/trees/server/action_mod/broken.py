# Fails at import with something other than ImportError (upstream would abort startup).
raise RuntimeError("cannot configure the broken module")
