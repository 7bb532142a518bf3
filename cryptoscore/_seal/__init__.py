"""Low-level bridge to Microsoft SEAL (as bundled by TenSEAL's ``sealapi``).

Nothing here is a recipe: it moves RNS polynomial data between numpy and SEAL objects and
builds the SEAL contexts a parameter set needs. The protocol modules one level up
(``circuits``, ``packing``, ``encryption``, ``keys``) are what the rest of the code uses.
"""
