# api rules
