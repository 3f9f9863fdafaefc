# store rules
