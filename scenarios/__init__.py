"""The scenario engine: Gherkin scenarios, Locust load, the mode timeline, and assertions on it."""
