# Imported by bare name (upstream puts lib/ on sys.path).
def shout(text):
    return text.upper()
