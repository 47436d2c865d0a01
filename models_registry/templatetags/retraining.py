"""``{% retraining_panel model as panel %}``: what the model page's retraining panel shows."""

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def retraining_panel(context, model):
    from models_registry.retraining.views import model_panel_context

    return model_panel_context(model, context["request"].user)
