"""Config validation with Oumi's own config classes (oumi is imported lazily)."""
