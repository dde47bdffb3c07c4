"""Follow-up survey calls (回访): the server rings citizens of tickets awaiting follow-up and
records their one-key rating. Built on the call side (ARI), the IVR engine's prompts and the
ticket workflow, so it depends on all three and none of them on it."""
