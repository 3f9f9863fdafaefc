# client rules
