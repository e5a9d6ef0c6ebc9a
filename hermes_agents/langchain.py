"""``hermes_agents.langchain``: the LangChain drop-ins (``hermes_agents.dropins.langchain``)."""

from hermes_agents.dropins.langchain import HermesChatModel, HermesEmbeddings, scheduled

__all__ = ["HermesChatModel", "HermesEmbeddings", "scheduled"]
