# CSV parser rules (client/csv.*)
