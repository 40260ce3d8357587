@monitoring
Feature: Alerts that fire, and alerts that stay quiet
  The system's own monitoring is part of its resilience: a real Prometheus scrapes every service each
  second and evaluates the shipped alert rules (system_under_test/monitoring/alerts.rules.yml). An
  outage users feel must page someone within the rule's for: plus a scrape and an evaluation, the page
  must clear after the heal, and a fault the system absorbs must page no one.

  Scenario: A slow LLM breaks the latency SLO: the page fires, then clears after the heal
    Answers stay correct and in normal mode, only slow: no breaker opens, nothing degrades, so the
    latency SLO is the only alert that can tell anyone.
    Given the system is running in "normal" mode
    And no alert is firing
    And a steady load of 10 users
    When latency of 1500 ms is added to "llm"
    Then the alert "ChatbotLatencyHigh" fires within 30 seconds
    And the mode stays "normal" for 5 seconds
    When all faults are removed
    Then the alert "ChatbotLatencyHigh" resolves within 45 seconds of the heal

  Scenario: A vector-db 300 ms slower is absorbed: answers stay normal and no one is paged
    Given the system is running in "normal" mode
    And no alert is firing
    And a steady load of 20 users
    When 3 seconds pass
    And latency of 300 ms is added to "vector-db"
    And 12 seconds pass
    Then the PromQL "1 - sum(rate(chatbot_requests_total{mode="normal"}[10s])) / sum(rate(chatbot_requests_total[10s]))" is below 0.01 since the fault
    And no alert fired
