"""A member's own data: erasure (`erase`), a member's copy (`export`), and the provider's copies of it
(`provider`: Twilio's messages, calls, recordings and transcriptions, deleted through the ProviderData port that retention uses too)."""
