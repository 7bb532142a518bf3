"""RNS arithmetic below the protocol layer: exact vectorized modular arithmetic, CSPRNG
sampling modulo a prime, Shamir sharing per prime. Nothing here is a recipe."""
