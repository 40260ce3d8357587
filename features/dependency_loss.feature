Feature: Losing a dependency
  When the vector database or the LLM dies, the chatbot keeps answering in a degraded mode that
  tells the user, and returns to normal through half-open once the dependency is back.

  @smoke
  Scenario: Vector-db killed and restarted
    Given the system is running in "normal" mode
    And a steady load of 20 users
    When the "vector-db" service is killed
    Then the mode becomes "degraded-no-context" within 5 seconds
    And the "vector-db" breaker opens within 5 seconds
    And no request returned a server error
    And every "degraded-no-context" answer carries a notice
    And the alert "ChatbotServiceDown" fires within 10 seconds
    When the "vector-db" service is restarted
    Then the mode becomes "normal" within 40 seconds
    And the "vector-db" breaker went through "closed, open, half-open, closed"
    And the alert "ChatbotServiceDown" resolves within 30 seconds of the heal
    And at least 99% of requests succeeded since the start

  Scenario: LLM killed: earlier questions from the cache, new ones get the busy message
    Given the system is running in "normal" mode
    And a steady load of 10 users
    When the question "How do I get a refund for an unused commuter pass?" is asked
    Then the answer is in "normal" mode
    When the "llm" service is killed
    Then the mode becomes "degraded-cache-only" within 5 seconds
    When the question "How do I get a refund for an unused commuter pass?" is asked
    Then the answer is in "degraded-cache-only" mode from the cache
    When the question "Can I bring a surfboard on the night bus to the airport?" is asked
    Then the answer is in "degraded-cache-only" mode, not from the cache
    And every "degraded-cache-only" answer carries a notice
    And no request returned a server error
    When the "llm" service is restarted
    Then the mode becomes "normal" within 40 seconds

  Scenario: Both dependencies killed: static FAQ answers
    Given the system is running in "normal" mode
    And a steady load of 10 users
    When the "vector-db" service is killed
    And the "llm" service is killed
    Then the mode becomes "static-only" within 5 seconds
    When the question "How much does it cost to reissue a lost Tsubame Card?" is asked
    Then the answer is in "static-only" mode
    And every "static-only" answer carries a notice
    And no request returned a server error
    When the "vector-db" service is restarted
    And the "llm" service is restarted
    Then the mode becomes "normal" within 40 seconds
