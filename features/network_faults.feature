Feature: Network faults between the gateway and its dependencies
  Faults injected through Toxiproxy on the real TCP path: slow, silent, refused and flaky links.

  Scenario: Vector-db slower than its timeout: the breaker opens and then fails fast
    Given the system is running in "normal" mode
    And a steady load of 20 users
    When latency of 5000 ms is added to "vector-db"
    Then the "vector-db" breaker opens within 10 seconds
    And the mode becomes "degraded-no-context" within 10 seconds
    When 5 seconds pass
    Then the p95 latency since the breaker opened is below 100 ms
    And no request returned a server error
    When all faults are removed
    Then the mode becomes "normal" within 40 seconds

  @smoke
  Scenario: Vector-db slower but within its timeout: normal mode, slower answers
    Given the system is running in "normal" mode
    And a steady load of 20 users
    When 5 seconds pass
    And latency of 300 ms is added to "vector-db"
    And 10 seconds pass
    Then the mode stays "normal" for 10 seconds
    And the p50 latency rose by 300 ms within 40% since the fault
    And at least 100% of requests succeeded since the fault
    And no alert fired

  Scenario: LLM partitioned and healed
    Given the system is running in "normal" mode
    And a steady load of 20 users
    When "llm" is partitioned from the gateway
    Then the mode becomes "degraded-cache-only" within 5 seconds
    And the "llm" breaker opens within 5 seconds
    And no request returned a server error
    And the alert "ChatbotBreakerOpen" fires within 10 seconds
    And the alert "ChatbotDegraded" fires within 15 seconds
    When the partition of "llm" heals
    Then the mode becomes "normal" within 40 seconds
    And the "llm" breaker went through "closed, open, half-open, closed"
    And the alert "ChatbotDegraded" resolves within 45 seconds of the heal

  Scenario: Flapping vector-db: answers keep coming, no retry storm
    Given the system is running in "normal" mode
    And a steady load of 20 users
    When "vector-db" flaps 2 s down and 2 s up for 30 seconds
    And 30 seconds pass
    Then at least 99% of requests succeeded since the fault
    And no request returned a server error
    And retries to "vector-db" stayed within 20% of requests since the fault

  Scenario: A third of the connections to the LLM are reset
    Given the system is running in "normal" mode
    And a steady load of 20 users
    When "llm" resets 30% of connections
    And 15 seconds pass
    Then at least 99% of requests succeeded since the fault
    And the mode stays "normal" for 15 seconds
    And retries to "llm" stayed within 20% of requests since the fault

  Scenario: Vector-db hangs, then resets, at low traffic: the deadline, not the breaker, bounds the wait
    A peer that holds each request 2.5 s and then resets it invites retries. At two users the breaker
    needs several failures to open; until then only the request deadline keeps three attempts from
    holding a user for 7.5 s.
    Given the system is running in "normal" mode
    And a steady load of 2 users
    When "vector-db" resets 100% of connections after 2500 ms
    Then the mode becomes "degraded-no-context" within 12 seconds
    When 10 seconds pass
    Then no request since the fault took longer than 5000 ms
    And no request returned a server error
    When all faults are removed
    Then the mode becomes "normal" within 40 seconds

  Scenario: LLM answers cut off mid-way: retries stay within their budget
    Each connection to the LLM is closed once it has carried 3 KB, so about a quarter of the answers
    break off. Every such failure is worth a retry, but retries may add only about a tenth to the
    LLM's load, not a quarter.
    Given the system is running in "normal" mode
    And a steady load of 6 users
    When connections to "llm" are cut after 3 KB
    And 20 seconds pass
    Then retries to "llm" stayed within 18% of requests since the fault
    And at least 99% of requests succeeded since the fault
