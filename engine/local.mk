# engine rules
