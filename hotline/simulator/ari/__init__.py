"""The stand-in's ARI REST routes, one module per resource, as Asterisk 22 serves them."""
