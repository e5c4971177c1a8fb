"""StarCraft II environments: the embedded engine, the pysc2 backend, and the entity env over both."""
