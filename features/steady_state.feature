@smoke
Feature: Steady state
  Before anything is broken, the chatbot answers every question in normal mode, quickly.

  Scenario: Normal mode under steady load
    Given the system is running in "normal" mode
    And a steady load of 20 users
    When 10 seconds pass
    Then the mode stays "normal" for 10 seconds
    And at least 100% of requests succeeded since the start
    And no request returned a server error
    And the p95 latency since the start is below 1000 ms
    And no alert fired
