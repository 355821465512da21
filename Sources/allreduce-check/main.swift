// placeholder: replaced by the collectives work
