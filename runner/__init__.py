"""The MISP workflow runner: execute MISP workflow graphs outside MISP, with MISP's semantics."""
