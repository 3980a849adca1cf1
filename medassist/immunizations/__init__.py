"""Immunizations: the CDC CDSi forecaster, vaccine stock, standing orders, administration,
observation after a dose, reactions and registry reporting."""
