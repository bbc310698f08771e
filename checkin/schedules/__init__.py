"""Meeting schedules and reminder plans: what is due to be sent, and when."""
