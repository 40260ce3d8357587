Feature: Hung processes, the gateway itself, and load spikes

  Scenario: Vector-db paused (a hung process)
    Given the system is running in "normal" mode
    And a steady load of 20 users
    When the "vector-db" service is paused
    Then the mode becomes "degraded-no-context" within 10 seconds
    And no request returned a server error
    And the alert "ChatbotServiceDown" fires within 15 seconds
    When the "vector-db" service is resumed
    Then the mode becomes "normal" within 40 seconds

  Scenario: The gateway killed and restarted: the outage is measured
    Given the system is running in "normal" mode
    And a steady load of 20 users
    When the "gateway" service is killed
    And 3 seconds pass
    And the "gateway" service is restarted
    Then the mode becomes "normal" within 30 seconds
    And the outage since the fault lasted between 1 and 30 seconds
    And no request returned a server error

  @smoke
  Scenario: A load spike of five times the users
    Given the system is running in "normal" mode
    And a steady load of 10 users
    When 5 seconds pass
    And the load rises to 50 users
    And 15 seconds pass
    Then no request returned a server error
    And at least 99% of requests succeeded since the load rose
    And the p99 latency since the load rose is below 2000 ms
