"""Shipped templates and example projects, installed as package data of mixgraph
(``mixgraph.projects``); they hold no code."""
