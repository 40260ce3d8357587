Feature: LLM- and HTTP-level faults
  What LLM providers and search backends really answer when they are rate limiting, overloaded or
  streaming badly, injected one level above TCP by the harness's HTTP fault proxy. Each fault hits the
  requests it matches; the rest of the traffic must stay normal.

  Scenario: A 429 storm with Retry-After: waits that fit are honoured, retries stay within budget
    Half of the LLM calls are refused with "429, retry after 1 s". The gateway may wait that second
    when it fits in the request's deadline and the retry budget, and must otherwise answer from its
    degraded mode at once: no error, no retry storm against a provider that asked for less traffic.
    The provider's side counts the calls: the retry budget (a tenth of the requests plus one a second)
    keeps them near 1.2 per request; a client retrying every 429 at once sends about two.
    Given the system is running in "normal" mode
    And a steady load of 10 users
    When "llm" answers 429 with Retry-After 1 s for 50% of requests
    And 10 seconds pass
    Then "llm" received at most 1.5 calls per request since the fault
    And at least 100% of requests succeeded since the fault
    And no request returned a server error
    And every "degraded-cache-only" answer carries a notice
    And the mode stays "normal" for 5 seconds

  Scenario: Rate limited with a Retry-After beyond the deadline: fail over at once, never sleep past it
    Given the system is running in "normal" mode
    And a steady load of 6 users
    When "llm" answers 429 with Retry-After 60 s for 30% of requests
    And 10 seconds pass
    Then no request since the fault took longer than 2000 ms
    And at least 100% of requests succeeded since the fault
    And no request returned a server error

  Scenario: Provider overloaded (529): the breaker opens, the system degrades, then recovers
    Given the system is running in "normal" mode
    And a steady load of 10 users
    When "llm" answers 529 for 100% of requests
    Then the "llm" breaker opens within 10 seconds
    And the mode becomes "degraded-cache-only" within 10 seconds
    And no request returned a server error
    And the alert "ChatbotBreakerOpen" fires within 10 seconds
    When the HTTP faults on "llm" are removed
    Then the mode becomes "normal" within 40 seconds
    And the "llm" breaker went through "closed, open, half-open, closed"

  @smoke
  Scenario: Streamed answers stall before the first token: degraded answer in time, no hang
    For a third of the streamed calls the LLM accepts the call and then says nothing for 8 s. The
    gateway's first-token timeout (5 s) must give up and answer those from the degraded mode, well
    before the 30 s LLM timeout; the other answers stream normally.
    Given the system is running in "normal" mode
    And a steady load of 6 streaming users
    When streamed answers from "llm" stall 8 s before the first token for 30% of them
    And 12 seconds pass
    Then no streamed answer hung
    And no request since the fault took longer than 7000 ms
    And no request returned a server error
    And every "degraded-cache-only" answer carries a notice

  Scenario: Streamed answers cut mid-answer: a partial answer ends with a notice, never an error
    A third of the LLM's streams break off after their first words. The user already has part of the
    answer: it must end with a notice saying it was interrupted, not look complete, not become an error.
    Given the system is running in "normal" mode
    And a steady load of 6 streaming users
    When streamed answers from "llm" are cut after 4 events for 30% of them
    And 8 seconds pass
    Then every interrupted streamed answer carries a notice
    And no request returned a server error
    And no streamed answer hung

  Scenario: Only fare questions fail at the vector-db: they degrade, everything else stays normal
    Questions about fares (about a tenth of the traffic) make the search backend answer 503. Those
    requests answer without context; the breaker must not open for a failure rate far below its
    threshold, so every other question keeps its normal, grounded answer.
    Given the system is running in "normal" mode
    And a steady load of 10 users
    When "vector-db" fails with 503 for questions matching "運賃|fare"
    And 10 seconds pass
    Then the mode stays "normal" for 5 seconds
    And at least 100% of requests succeeded since the fault
    And no alert fired
    When the question "What's the cheapest fare if I pay with an IC card instead of a ticket?" is asked
    Then the answer is in "degraded-no-context" mode
    When the question "Does my 4-year-old daughter need a ticket?" is asked
    Then the answer is in "normal" mode
