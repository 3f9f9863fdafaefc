# scheduler rules
