"""The drop-ins: what an app changes to be scheduled, in one place.

- ``langgraph``: ``instrument()``, a compiled LangGraph graph as a scheduled app (with
  ``langgraph_runs``: which run an invocation is; ``langgraph_tracker``: the stage visits of
  its nodes, subgraphs and tasks; ``langgraph_prior``: the prior from the builder);
- ``langchain``: ``HermesChatModel`` / ``HermesEmbeddings``, wrappers of LangChain models;
- ``openai``: ``OpenAI`` / ``AsyncOpenAI``, subclasses of openai's clients;
- ``tools``: ``@tool``, any callable as a scheduled task;
- ``sizing``: how big a call is before it runs.

Every drop-in takes one ``Slot`` (``hermes_agents.scheduling.slot``) per call, from whatever
``Scheduler`` it was given (``hermes_agents.scheduling.interface``); none looks at which one.
The public paths stay ``hermes_agents.instrument``, ``hermes_agents.tool``,
``hermes_agents.openai`` and ``hermes_agents.langchain``.
"""
