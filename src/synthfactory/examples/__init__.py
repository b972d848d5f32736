"""Built-in example recipes (named in :data:`synthfactory.recipe.loader.BUILTIN_RECIPES`)."""
