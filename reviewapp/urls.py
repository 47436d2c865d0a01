from django.urls import path

from reviewapp import views

app_name = "review"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("next/", views.claim_next, name="next"),
    path("items/<int:pk>/", views.item_detail, name="item"),
    path("items/<int:pk>/renew/", views.item_renew, name="renew"),
    path("items/<int:pk>/release/", views.item_release, name="release"),
    path("me/", views.my_figures, name="me"),
    path("team/", views.team, name="team"),
    path("deliveries/", views.deliveries, name="deliveries"),
    path("deliveries/<int:pk>/", views.delivery_detail, name="delivery"),
    path("deliveries/<int:pk>/replay/", views.delivery_replay, name="replay"),
]
