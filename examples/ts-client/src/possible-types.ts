
      export type PossibleTypesResultData = {
  "possibleTypes": {
    "Node": [
      "Agent",
      "Message",
      "Session"
    ],
    "SessionEvent": [
      "MessageAddedEvent",
      "SessionCreatedEvent",
      "SessionDeletedEvent",
      "SessionExpiredEvent",
      "SessionNearExpirationEvent",
      "SessionRenewedEvent"
    ]
  }
};
      const result: PossibleTypesResultData = {
  "possibleTypes": {
    "Node": [
      "Agent",
      "Message",
      "Session"
    ],
    "SessionEvent": [
      "MessageAddedEvent",
      "SessionCreatedEvent",
      "SessionDeletedEvent",
      "SessionExpiredEvent",
      "SessionNearExpirationEvent",
      "SessionRenewedEvent"
    ]
  }
};
      export default result;
    