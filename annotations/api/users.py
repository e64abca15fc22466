"""Users for admins (list, create with a token, read, change role or access) and /api/me."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.permissions import IsAdminRole
from annotations.models import Role, User
from annotations.selectors.catalog import user_get, user_list
from annotations.services.users import user_create_or_update, user_update


class UserSerializer(serializers.ModelSerializer):
    # Plain string: an address is optional, and "" is not a valid `email` format.
    email = serializers.CharField(read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "email", "role", "is_active", "date_joined", "last_login"]
        read_only_fields = fields


class UserCreatedSerializer(UserSerializer):
    token = serializers.CharField(help_text="API token: send it as `Authorization: Token <key>`.")

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "token"]
        read_only_fields = fields


class UserCreateInput(serializers.Serializer):
    username = serializers.RegexField(
        r"^[\w.@+-]+\Z",
        max_length=150,
        help_text="Letters, digits and @/./+/-/_ only.",
    )
    role = serializers.ChoiceField(Role.choices)
    # The password validators (settings.AUTH_PASSWORD_VALIDATORS) judge it, in the service.
    password = serializers.CharField(
        required=False, write_only=True, max_length=128, trim_whitespace=False
    )
    email = serializers.EmailField(required=False, allow_blank=True)

    def validate_username(self, value: str) -> str:
        if user_get(username=value) is not None:
            raise serializers.ValidationError(
                f"a user '{value}' already exists; change it with PATCH /api/users/{value}"
            )
        return value


class UserUpdateInput(serializers.Serializer):
    role = serializers.ChoiceField(Role.choices, required=False)
    is_active = serializers.BooleanField(required=False)


class UserListView(generics.ListCreateAPIView):
    """GET: every user (admins). POST: create a user; the answer carries their API token."""

    permission_classes = [IsAdminRole]
    serializer_class = UserSerializer

    def get_queryset(self) -> Any:
        return user_list()

    @extend_schema(request=UserCreateInput, responses={201: UserCreatedSerializer})
    def post(self, request: Request) -> Response:
        data = UserCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = user_create_or_update(**data.validated_data)
        body = {**UserSerializer(result.user).data, "token": result.token}
        return Response(body, status=status.HTTP_201_CREATED)


class UserDetailView(generics.GenericAPIView):
    """GET: one user (admins). PATCH: change their role or deactivate them (admins)."""

    permission_classes = [IsAdminRole]
    serializer_class = UserSerializer

    def _user(self, username: str) -> User:
        user = user_get(username=username)
        if user is None:
            raise Http404("No user with this username.")
        return user

    @extend_schema(responses=UserSerializer)
    def get(self, request: Request, username: str) -> Response:
        return Response(UserSerializer(self._user(username)).data)

    @extend_schema(request=UserUpdateInput, responses=UserSerializer)
    def patch(self, request: Request, username: str) -> Response:
        user = self._user(username)
        data = UserUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_update(user=user, acting=request.user, **data.validated_data)
        return Response(UserSerializer(user).data)


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    role = serializers.ChoiceField(Role.choices)
    can_see_results = serializers.BooleanField()
    is_admin = serializers.BooleanField()


class MeView(APIView):
    """GET /api/me: who is calling, and with which role (anyone logged in)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        user = request.user
        role = Role.ADMIN if user.is_admin_role else user.role
        return Response(
            {
                "username": user.username,
                "role": role,
                "can_see_results": user.can_see_results,
                "is_admin": user.is_admin_role,
            }
        )
